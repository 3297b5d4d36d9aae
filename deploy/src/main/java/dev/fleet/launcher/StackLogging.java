package dev.fleet.launcher;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.FileHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Sends what the stack's services log in this JVM (Kafka, PostgreSQL's relayed output, S3Proxy:
 * slf4j, ending in java.util.logging) to a file instead of the console, whose output is the
 * launcher's own. The level is {@code INFO}, or the system property {@value #LEVEL_PROPERTY}.
 */
final class StackLogging {
  static final String LEVEL_PROPERTY = "fleet.stack.log-level";

  // java.util.logging keeps loggers weakly: a level set on a logger nobody holds is forgotten.
  private static final List<Logger> HELD = new ArrayList<>();
  private static Handler file;

  private StackLogging() {}

  static synchronized void toFile(Path log) throws IOException {
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {
      root.removeHandler(h);
      if (h == file) {
        h.close();
      }
    }
    file = new FileHandler(log.toAbsolutePath().toString(), false);
    file.setFormatter(new OneLine());
    file.setEncoding("UTF-8");
    Level level = level();
    file.setLevel(level);
    root.addHandler(file);
    root.setLevel(level);
    HELD.add(root);
    // Kafka's INFO is a full configuration dump per component: warnings are what matter.
    for (String chatty : List.of("kafka", "org.apache.kafka", "state.change.logger")) {
      Logger l = Logger.getLogger(chatty);
      l.setLevel(level.intValue() < Level.INFO.intValue() ? level : Level.WARNING);
      HELD.add(l);
    }
  }

  private static Level level() {
    try {
      return Level.parse(System.getProperty(LEVEL_PROPERTY, "INFO"));
    } catch (IllegalArgumentException e) {
      return Level.INFO;
    }
  }

  /** {@code 2026-11-22 00:41:02.123 WARNING [logger] message}, then the stack trace if any. */
  private static final class OneLine extends Formatter {
    private static final DateTimeFormatter TIME =
        DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

    @Override
    public String format(LogRecord r) {
      StringBuilder b =
          new StringBuilder()
              .append(TIME.format(r.getInstant()))
              .append(' ')
              .append(r.getLevel().getName())
              .append(" [")
              .append(r.getLoggerName())
              .append("] ")
              .append(formatMessage(r))
              .append(System.lineSeparator());
      if (r.getThrown() != null) {
        StringWriter w = new StringWriter();
        r.getThrown().printStackTrace(new PrintWriter(w));
        b.append(w);
      }
      return b.toString();
    }
  }
}
