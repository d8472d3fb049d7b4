package kr.dojangkok;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** The notes table, reached through plain JDBC (the MariaDB driver comes from the Class-Path). */
final class NoteRepository {
    static final String CREATE_TABLE =
            "CREATE TABLE IF NOT EXISTS notes ("
                    + "id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                    + "text VARCHAR(1000) NOT NULL, "
                    + "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)";

    record Note(long id, String text) {
        String toJson() {
            return "{\"id\":" + id + ",\"text\":" + Json.quote(text) + "}";
        }
    }

    private final AppConfig config;
    private volatile boolean schemaReady;

    NoteRepository(AppConfig config) {
        this.config = config;
        DriverManager.setLoginTimeout(3);
    }

    private Connection connect() throws SQLException {
        Connection connection =
                DriverManager.getConnection(config.dbUrl, config.dbUser, config.dbPassword);
        if (!schemaReady) {
            try (Statement statement = connection.createStatement()) {
                statement.execute(CREATE_TABLE);
                schemaReady = true;
            } catch (SQLException e) {
                connection.close();
                throw e;
            }
        }
        return connection;
    }

    /** Creates the table if absent; called once at start-up (and again lazily while it fails). */
    void initSchema() throws SQLException {
        try (Connection ignored = connect()) {
            // connect() ran CREATE TABLE IF NOT EXISTS
        }
    }

    boolean isHealthy() {
        try (Connection connection = connect()) {
            return connection.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    List<Note> findAll() throws SQLException {
        List<Note> notes = new ArrayList<>();
        try (Connection connection = connect();
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT id, text FROM notes ORDER BY id")) {
            while (rows.next()) {
                notes.add(new Note(rows.getLong("id"), rows.getString("text")));
            }
        }
        return notes;
    }

    Note insert(String text) throws SQLException {
        try (Connection connection = connect();
                PreparedStatement insert =
                        connection.prepareStatement(
                                "INSERT INTO notes (text) VALUES (?)",
                                Statement.RETURN_GENERATED_KEYS)) {
            insert.setString(1, text);
            insert.executeUpdate();
            try (ResultSet keys = insert.getGeneratedKeys()) {
                if (!keys.next()) {
                    throw new SQLException("no generated key returned");
                }
                long id = keys.getLong(1);
                try (PreparedStatement select =
                        connection.prepareStatement("SELECT id, text FROM notes WHERE id = ?")) {
                    select.setLong(1, id);
                    try (ResultSet row = select.executeQuery()) {
                        if (!row.next()) {
                            throw new SQLException("inserted note " + id + " not found");
                        }
                        return new Note(row.getLong("id"), row.getString("text"));
                    }
                }
            }
        }
    }
}
