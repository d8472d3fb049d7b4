package kr.dojangkok;

import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;

/** Spring-Boot-like log lines on stdout (systemd puts them in the journal). */
final class Log {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    private static final long PID = ProcessHandle.current().pid();

    private Log() {}

    static void info(String message) {
        write("INFO", message);
    }

    static void warn(String message) {
        write("WARN", message);
    }

    static void error(String message) {
        write("ERROR", message);
    }

    private static synchronized void write(String level, String message) {
        System.out.printf(
                "%s %5s %d --- [%15.15s] kr.dojangkok.DojangkokApplication : %s%n",
                OffsetDateTime.now().format(TIME),
                level,
                PID,
                Thread.currentThread().getName(),
                message);
        System.out.flush();
    }
}
