package kr.dojangkok;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.sql.SQLException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/** Stand-in for the dojangkok Spring Boot service, built on the JDK alone. */
public final class DojangkokApplication {
    private DojangkokApplication() {}

    public static void main(String[] args) throws Exception {
        long started = System.nanoTime();
        AppConfig config;
        try {
            config = AppConfig.fromEnvironment(args);
        } catch (IllegalArgumentException e) {
            Log.error("invalid configuration: " + e.getMessage());
            System.exit(1);
            return;
        }
        Log.info("Starting DojangkokApplication v" + config.version + " using Java "
                + Runtime.version() + " with PID " + ProcessHandle.current().pid());
        if (!config.breakMode.isEmpty()) {
            Log.warn("fault injection active: BREAK=" + config.breakMode);
        }
        if ("start".equals(config.breakMode)) {
            Log.error("APPLICATION FAILED TO START: simulated start-up failure (BREAK=start)");
            System.exit(1);
        }

        // Stands in for Spring's context start-up: the port stays closed until it is over.
        if (config.startupDelaySeconds > 0) {
            Log.info("Initializing application context (" + config.startupDelaySeconds + "s)");
            Thread.sleep(Math.round(config.startupDelaySeconds * 1000));
        }

        NoteRepository notes = new NoteRepository(config);
        try {
            notes.initSchema();
            Log.info("Database ready at " + config.dbUrl + " (table notes)");
        } catch (SQLException e) {
            Log.warn("Database unavailable at " + config.dbUrl + ": " + e.getMessage()
                    + " (health reports DOWN until it is reachable)");
        }

        // TCP_NODELAY on every connection, as Spring Boot's embedded Tomcat has by default:
        // without it the JDK server's separate header and body writes wait for nginx's
        // delayed ACK (~40 ms) on each reused (pooled) upstream connection
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(config.serverPort), 0);
        } catch (IOException e) {
            Log.error("Web server failed to start. Port " + config.serverPort
                    + " could not be bound: " + e.getMessage());
            System.exit(1);
            return;
        }
        ExecutorService workers = Executors.newFixedThreadPool(8);
        ApiHandler handler = new ApiHandler(config, notes);
        server.createContext("/", handler);
        server.setExecutor(workers);
        server.start();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (config.gracefulShutdown) {
                drain(server, handler, config);
            } else {
                stop(server, workers, config);
            }
        }, "shutdown"));

        double seconds = (System.nanoTime() - started) / 1e9;
        Log.info("Web server started on port " + config.serverPort + " (http)");
        Log.info(String.format("Started DojangkokApplication v%s in %.3f seconds",
                config.version, seconds));
    }

    /**
     * server.shutdown=graceful, on SIGTERM/SIGINT, as Spring Boot does: no new connection is
     * accepted (the listening socket closes at once), the requests in flight finish, bounded
     * by spring.lifecycle.timeout-per-shutdown-phase; then the JVM exits.
     */
    private static void drain(HttpServer server, ApiHandler handler, AppConfig config) {
        Log.info("Commencing graceful shutdown. Waiting for active requests to complete ("
                + handler.inFlight.get() + " in flight, at most "
                + config.shutdownTimeoutMillis / 1000.0 + "s)");
        // HttpServer.stop closes the listener first, then waits; the JVM exits when this
        // hook returns, so the wait below is the one that counts
        Thread closer = new Thread(
                () -> server.stop((int) Math.max(1, config.shutdownTimeoutMillis / 1000)), "closer");
        closer.setDaemon(true);
        closer.start();
        long deadline = System.nanoTime() + config.shutdownTimeoutMillis * 1_000_000;
        while (handler.inFlight.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (handler.inFlight.get() > 0) {
            Log.warn("Graceful shutdown aborted with one or more requests still active ("
                    + handler.inFlight.get() + ")");
        } else {
            Log.info("Graceful shutdown complete");
        }
    }

    /** Runs on SIGTERM/SIGINT: lets in-flight requests finish, then stops the workers. */
    private static void stop(HttpServer server, ExecutorService workers, AppConfig config) {
        Log.info("Shutting down: stopping web server on port " + config.serverPort);
        server.stop(1);
        workers.shutdown();
        try {
            workers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Log.info("Shutdown complete");
    }
}
