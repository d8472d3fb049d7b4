package kr.dojangkok;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/** Routes every request: health, version, a slow request and the notes API. */
final class ApiHandler implements HttpHandler {
    private static final int MAX_BODY_BYTES = 64 * 1024;
    /** The longest /api/slow may take: nginx's proxy_read_timeout would cut it anyway. */
    static final double MAX_SLOW_SECONDS = 600;

    private final AppConfig config;
    private final NoteRepository notes;
    /** Requests being handled now (a graceful shutdown waits for them). */
    final AtomicInteger inFlight = new AtomicInteger();

    ApiHandler(AppConfig config, NoteRepository notes) {
        this.config = config;
        this.notes = notes;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        inFlight.incrementAndGet();
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
                case "/api/ai/health" -> {
                    if (requireMethod(exchange, method, "GET")) {
                        aiHealth(exchange);
                    }
                }
                case "/api/slow" -> {
                    if (requireMethod(exchange, method, "GET")) {
                        slow(exchange);
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
        } finally {
            inFlight.decrementAndGet(); // after the exchange closed: the answer is sent
        }
    }

    /** GET /api/slow?seconds=N: answers after N seconds (0 to 600), like a long request. */
    private void slow(HttpExchange exchange) throws IOException {
        String query = exchange.getRequestURI().getQuery();
        double seconds;
        try {
            String raw = null;
            for (String part : (query == null ? "" : query).split("&")) {
                if (part.startsWith("seconds=")) {
                    raw = part.substring("seconds=".length());
                }
            }
            seconds = Double.parseDouble(raw == null ? "" : raw);
        } catch (NumberFormatException e) {
            send(exchange, 400, error("seconds must be a number from 0 to " + (int) MAX_SLOW_SECONDS));
            return;
        }
        if (!(seconds >= 0 && seconds <= MAX_SLOW_SECONDS)) {
            send(exchange, 400, error("seconds must be a number from 0 to " + (int) MAX_SLOW_SECONDS));
            return;
        }
        try {
            Thread.sleep(Math.round(seconds * 1000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            send(exchange, 503, error("interrupted"));
            return;
        }
        send(exchange, 200, "{\"slept\":" + seconds + ",\"version\":" + Json.quote(config.version) + "}");
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

    /**
     * GET /api/ai/health: the backend asks the AI server (AI_SERVER_URL + /health), as the
     * team's backend does for each analysis: 200 with the AI's answer, 502 when it cannot
     * reach it (the cause in the error), 503 when no AI server is configured.
     */
    private void aiHealth(HttpExchange exchange) throws IOException {
        if (config.aiServerUrl.isEmpty()) {
            send(exchange, 503, error("AI_SERVER_URL is not set"));
            return;
        }
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(config.aiServerUrl + "/health"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        try {
            HttpResponse<String> answer = client.send(request, HttpResponse.BodyHandlers.ofString());
            send(exchange, answer.statusCode() == 200 ? 200 : 502, answer.body());
        } catch (IOException e) {
            Log.error("cannot reach the AI server " + config.aiServerUrl + ": " + e);
            send(exchange, 502, error("cannot reach the AI server: " + e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            send(exchange, 502, error("interrupted"));
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
