package kr.dojangkok;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Settings from the environment, with Spring-style fallbacks, plus build-time resources. */
final class AppConfig {
    static final String DEFAULT_DB_URL = "jdbc:mariadb://localhost:3306/dojangkok";

    final int serverPort;
    final String dbUrl;
    final String dbUser;
    final String dbPassword;
    final double startupDelaySeconds;
    /** Version baked into the jar by gradlew (resource dojangkok/VERSION). */
    final String version;
    /** Fault baked into the jar by gradlew (resource dojangkok/BREAK), "" when none. */
    final String breakMode;

    private AppConfig(Map<String, String> env) {
        this.serverPort = parseInt(first(env, "8080", "SERVER_PORT"), "SERVER_PORT");
        this.dbUrl = first(env, DEFAULT_DB_URL, "DB_URL", "SPRING_DATASOURCE_URL");
        this.dbUser = first(env, "dojangkok", "DB_USER", "SPRING_DATASOURCE_USERNAME");
        this.dbPassword = first(env, "", "DB_PASSWORD", "SPRING_DATASOURCE_PASSWORD");
        this.startupDelaySeconds =
                parseDouble(first(env, "5", "STARTUP_DELAY_SECONDS"), "STARTUP_DELAY_SECONDS");
        this.version = resource("dojangkok/VERSION", "0.0.0-unknown");
        this.breakMode = resource("dojangkok/BREAK", "");
    }

    static AppConfig fromEnvironment() {
        return new AppConfig(System.getenv());
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
