package kr.dojangkok;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Settings from the command line (Spring's {@code --name=value}, which wins) and the
 * environment, with Spring-style fallbacks, plus build-time resources.
 */
final class AppConfig {
    static final String DEFAULT_DB_URL = "jdbc:mariadb://localhost:3306/dojangkok";
    /** Spring Boot's default {@code spring.lifecycle.timeout-per-shutdown-phase}. */
    static final String DEFAULT_SHUTDOWN_TIMEOUT = "30s";

    final int serverPort;
    final String dbUrl;
    final String dbUser;
    final String dbPassword;
    /** The AI server the backend calls (the team's: the GPU host's port 8000); "" when none. */
    final String aiServerUrl;
    final double startupDelaySeconds;
    /**
     * Spring Boot's {@code server.shutdown}: "graceful" lets requests in flight finish on
     * SIGTERM (no new connection is accepted), bounded by the shutdown timeout;
     * "immediate" (Spring Boot 3.3's default) stops at once.
     */
    final boolean gracefulShutdown;
    /** Spring Boot's {@code spring.lifecycle.timeout-per-shutdown-phase}, in milliseconds. */
    final long shutdownTimeoutMillis;
    /** Version baked into the jar by gradlew (resource dojangkok/VERSION). */
    final String version;
    /** Fault baked into the jar by gradlew (resource dojangkok/BREAK), "" when none. */
    final String breakMode;

    private AppConfig(Map<String, String> env, Map<String, String> args) {
        this.serverPort = parseInt(
                args.getOrDefault("server.port", first(env, "8080", "SERVER_PORT")), "SERVER_PORT");
        this.dbUrl = first(env, DEFAULT_DB_URL, "DB_URL", "SPRING_DATASOURCE_URL");
        this.dbUser = first(env, "dojangkok", "DB_USER", "SPRING_DATASOURCE_USERNAME");
        this.dbPassword = first(env, "", "DB_PASSWORD", "SPRING_DATASOURCE_PASSWORD");
        this.aiServerUrl = first(env, "", "AI_SERVER_URL");
        this.startupDelaySeconds =
                parseDouble(first(env, "5", "STARTUP_DELAY_SECONDS"), "STARTUP_DELAY_SECONDS");
        String shutdown = args.getOrDefault("server.shutdown", first(env, "immediate", "SERVER_SHUTDOWN"));
        if (!shutdown.equalsIgnoreCase("graceful") && !shutdown.equalsIgnoreCase("immediate")) {
            throw new IllegalArgumentException(
                    "server.shutdown must be graceful or immediate: " + shutdown);
        }
        this.gracefulShutdown = shutdown.equalsIgnoreCase("graceful");
        this.shutdownTimeoutMillis = parseDuration(args.getOrDefault(
                "spring.lifecycle.timeout-per-shutdown-phase",
                first(env, DEFAULT_SHUTDOWN_TIMEOUT, "SPRING_LIFECYCLE_TIMEOUTPERSHUTDOWNPHASE")),
                "spring.lifecycle.timeout-per-shutdown-phase");
        this.version = resource("dojangkok/VERSION", "0.0.0-unknown");
        this.breakMode = resource("dojangkok/BREAK", "");
    }

    static AppConfig fromEnvironment(String[] args) {
        return new AppConfig(System.getenv(), commandLine(args));
    }

    /** Spring's command-line properties: {@code --name=value}; anything else is ignored. */
    private static Map<String, String> commandLine(String[] args) {
        Map<String, String> out = new HashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 2) {
                out.put(arg.substring(2, eq), arg.substring(eq + 1));
            }
        }
        return out;
    }

    /** A Spring Duration: "30s", "2m", "500ms", or a bare number of milliseconds. */
    private static long parseDuration(String value, String name) {
        try {
            String v = value.trim().toLowerCase();
            long millis;
            if (v.endsWith("ms")) {
                millis = Long.parseLong(v.substring(0, v.length() - 2));
            } else if (v.endsWith("s")) {
                millis = Long.parseLong(v.substring(0, v.length() - 1)) * 1000;
            } else if (v.endsWith("m")) {
                millis = Long.parseLong(v.substring(0, v.length() - 1)) * 60_000;
            } else {
                millis = Long.parseLong(v);
            }
            if (millis < 0) {
                throw new NumberFormatException("negative");
            }
            return millis;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " is not a duration (30s, 2m): " + value, e);
        }
    }

    /** The first of the given variables that is set and non-blank, else the default. */
    private static String first(Map<String, String> env, String fallback, String... names) {
        for (String name : names) {
            String value = env.get(name);
            if (value != null && !value.isBlank()) {
                return value.trim();
            }
        }
        return fallback;
    }

    private static int parseInt(String value, String name) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " is not an integer: " + value, e);
        }
    }

    private static double parseDouble(String value, String name) {
        try {
            double parsed = Double.parseDouble(value);
            if (parsed < 0 || Double.isNaN(parsed)) {
                throw new NumberFormatException("negative");
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " is not a number >= 0: " + value, e);
        }
    }

    private static String resource(String name, String fallback) {
        try (InputStream in = AppConfig.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                return fallback;
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return fallback;
        }
    }
}
