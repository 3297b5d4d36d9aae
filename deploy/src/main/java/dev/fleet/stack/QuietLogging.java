package dev.fleet.stack;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Turns the services' INFO chatter (Kafka logs every config and state change, PostgreSQL's output
 * is relayed line by line) down to WARNING. The services log through slf4j, which ends in
 * java.util.logging here (slf4j-jdk14, or JBoss LogManager inside Quarkus). Set the system property
 * {@value #LEVEL_PROPERTY} (e.g. {@code INFO}) to see more.
 */
public final class QuietLogging {
  static final String LEVEL_PROPERTY = "fleet.stack.log-level";

  private static final List<String> SERVICE_CATEGORIES =
      List.of("kafka", "org.apache.kafka", "state.change.logger", "io.zonky", "org.gaul");

  // java.util.logging keeps loggers weakly: a level set on a logger nobody holds is forgotten.
  private static final List<Logger> HELD = new ArrayList<>();

  private QuietLogging() {}

  /** Quiets the service categories only: for JVMs that run other code, such as tests. */
  public static synchronized void services() {
    Level level = level();
    for (String category : SERVICE_CATEGORIES) {
      hold(Logger.getLogger(category), level);
    }
  }

  /** Quiets everything: for {@code StackMain}, whose output is the endpoint list. */
  static synchronized void everything() {
    services();
    Level level = level();
    Logger root = Logger.getLogger("");
    hold(root, level);
    for (var handler : root.getHandlers()) {
      handler.setLevel(level);
    }
  }

  private static void hold(Logger logger, Level level) {
    logger.setLevel(level);
    HELD.add(logger);
  }

  private static Level level() {
    try {
      return Level.parse(System.getProperty(LEVEL_PROPERTY, "WARNING"));
    } catch (IllegalArgumentException e) {
      return Level.WARNING;
    }
  }
}
