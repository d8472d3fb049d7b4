package kr.dojangkok;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Routes every request: health, version and the notes API. */
final class ApiHandler implements HttpHandler {
    private static final int MAX_BODY_BYTES = 64 * 1024;

    private final AppConfig config;
    private final NoteRepository notes;

    ApiHandler(AppConfig config, NoteRepository notes) {
        this.config = config;
        this.notes = notes;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            if (path.length() > 1 && path.endsWith("/")) {
                path = path.substring(0, path.length() - 1);
            }
            switch (path) {
                case "/health", "/actuator/health" -> {
                    if (requireMethod(exchange, method, "GET")) {
                        health(exchange);
                    }
                }
                case "/api/version" -> {
                    if (requireMethod(exchange, method, "GET")) {
                        send(exchange, 200, "{\"version\":" + Json.quote(config.version) + "}");
                    }
                }
                case "/api/notes" -> {
                    if ("GET".equals(method)) {
                        listNotes(exchange);
                    } else if ("POST".equals(method)) {
                        createNote(exchange);
                    } else {
                        exchange.getResponseHeaders().set("Allow", "GET, POST");
                        send(exchange, 405, error("method not allowed"));
                    }
                }
                default -> send(exchange, 404, error("not found: " + path));
            }
        } catch (RuntimeException e) {
            Log.error("request failed: " + e);
        }
    }

    private void health(HttpExchange exchange) throws IOException {
        if ("health".equals(config.breakMode)) {
            send(exchange, 503, "{\"status\":\"DOWN\"}");
        } else if (notes.isHealthy()) {
            send(exchange, 200, "{\"status\":\"UP\"}");
        } else {
            send(exchange, 503, "{\"status\":\"DOWN\"}");
        }
    }

    private void listNotes(HttpExchange exchange) throws IOException {
        List<NoteRepository.Note> all;
        try {
            all = notes.findAll();
        } catch (SQLException e) {
            Log.warn("GET /api/notes: database unavailable: " + e.getMessage());
            send(exchange, 503, error("database unavailable"));
            return;
        }
        String body =
                all.stream().map(NoteRepository.Note::toJson).collect(Collectors.joining(",", "[", "]"));
        send(exchange, 200, body);
    }

    private void createNote(HttpExchange exchange) throws IOException {
        String text;
        try {
            text = readText(exchange.getRequestBody());
        } catch (IllegalArgumentException e) {
            send(exchange, 400, error(e.getMessage()));
            return;
        }
        NoteRepository.Note note;
        try {
            note = notes.insert(text);
        } catch (SQLException e) {
            Log.warn("POST /api/notes: database unavailable: " + e.getMessage());
            send(exchange, 503, error("database unavailable"));
            return;
        }
        Log.info("created note " + note.id());
        send(exchange, 201, note.toJson());
    }

    /** The "text" field of a JSON object body; IllegalArgumentException for anything else. */
    private static String readText(InputStream body) throws IOException {
        byte[] bytes = body.readNBytes(MAX_BODY_BYTES + 1);
        if (bytes.length > MAX_BODY_BYTES) {
            throw new IllegalArgumentException("request body too large");
        }
        Object parsed = Json.parse(new String(bytes, StandardCharsets.UTF_8));
        if (!(parsed instanceof Map<?, ?> object)) {
            throw new IllegalArgumentException("body must be a JSON object");
        }
        if (!(object.get("text") instanceof String text) || text.isBlank()) {
            throw new IllegalArgumentException("\"text\" must be a non-empty string");
        }
        if (text.length() > 1000) {
            throw new IllegalArgumentException("\"text\" must be at most 1000 characters");
        }
        return text;
    }

    private static boolean requireMethod(HttpExchange exchange, String method, String allowed)
            throws IOException {
        if (allowed.equals(method)) {
            return true;
        }
        exchange.getResponseHeaders().set("Allow", allowed);
        send(exchange, 405, error("method not allowed"));
        return false;
    }

    private static String error(String message) {
        return "{\"error\":" + Json.quote(message) + "}";
    }

    private static void send(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
