package dev.fleet.gateway.outbox;

import io.agroal.api.AgroalDataSource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

/**
 * Runs the {@link OutboxRelay} on one background thread for the life of the gateway: a round right
 * after each submission ({@link #nudge()}), one every poll interval otherwise, and backing off (up
 * to {@code fleet.outbox.max-backoff}) while Kafka refuses messages. The producer is idempotent
 * with {@code acks=all}: a row is marked sent only once every replica has it. On shutdown it sends
 * what is left before the producer closes ({@code fleet.outbox.drain-timeout}).
 */
@ApplicationScoped
public class OutboxRelayService {
  private static final Logger LOG = Logger.getLogger(OutboxRelayService.class);
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(250);

  private final AgroalDataSource dataSource;
  private final OutboxConfig config;
  private final KafkaClientConfig kafka;
  private final Counter sentCounter;
  private final Counter failedCounter;

  private volatile boolean running;
  private volatile Thread thread;
  private Producer<String, String> producer;
  private OutboxRelay relay;
  private volatile boolean stopped;

  public OutboxRelayService(
      AgroalDataSource dataSource,
      OutboxConfig config,
      KafkaClientConfig kafka,
      MeterRegistry registry) {
    this.dataSource = dataSource;
    this.config = config;
    this.kafka = kafka;
    this.sentCounter =
        Counter.builder("fleet.outbox.sent")
            .description("Outbox messages the broker acknowledged")
            .register(registry);
    this.failedCounter =
        Counter.builder("fleet.outbox.send.failures")
            .description("Outbox messages whose send failed (retried later)")
            .register(registry);
  }

  void start(@Observes StartupEvent event) {
    producer = new KafkaProducer<>(producerConfig());
    Duration ackTimeout = config.deliveryTimeout().plusSeconds(1);
    relay = new OutboxRelay(dataSource, producer, config.batchSize(), ackTimeout);
    running = true;
    thread = Thread.ofPlatform().name("outbox-relay").daemon().start(() -> loop(relay));
  }

  Map<String, Object> producerConfig() {
    Map<String, Object> p = kafka.common();
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    int delivery = (int) config.deliveryTimeout().toMillis();
    // delivery.timeout.ms must cover linger.ms + request.timeout.ms.
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, delivery);
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.max(1000, delivery / 2));
    p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    // send() waits this long for topic metadata when the broker is away; the row then waits.
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Math.max(1000, delivery / 2));
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "fleet-gateway-outbox");
    return p;
  }

  /** Asks for a round now (a job was just stored); cheap, never blocks. */
  public void nudge() {
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  private void loop(OutboxRelay relay) {
    Duration backoff = FIRST_BACKOFF;
    boolean failing = false;
    while (running) {
      Duration wait = config.pollInterval();
      try {
        OutboxRelay.Round round = relay.relayOnce();
        sentCounter.increment(round.sent());
        failedCounter.increment(round.failed());
        if (round.failed() > 0) {
          if (!failing) {
            LOG.warnf(
                "outbox: %d message(s) not sent, retrying: %s", round.failed(), round.lastError());
          }
          failing = true;
          wait = backoff;
          backoff = min(backoff.multipliedBy(2), config.maxBackoff());
        } else {
          if (failing && round.sent() > 0) {
            LOG.info("outbox: Kafka accepts messages again");
          }
          failing = false;
          backoff = FIRST_BACKOFF;
          if (round.sent() == config.batchSize()) {
            continue; // more rows are waiting
          }
        }
      } catch (Exception e) {
        if (!failing) {
          LOG.warn("outbox: round failed, retrying", e);
        }
        failing = true;
        wait = backoff;
        backoff = min(backoff.multipliedBy(2), config.maxBackoff());
      }
      LockSupport.parkNanos(wait.toNanos());
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  void stop(@Observes ShutdownEvent event) {
    if (stopped) {
      return;
    }
    stopped = true;
    running = false;
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
      try {
        t.join(config.deliveryTimeout().plusSeconds(2).toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (relay != null) {
      drain(relay);
    }
    if (producer != null) {
      producer.close(Duration.ofSeconds(2));
    }
  }

  /** Sends the rows still in the outbox, until none is left or the drain timeout has passed. */
  private void drain(OutboxRelay relay) {
    long deadline = System.nanoTime() + config.drainTimeout().toNanos();
    int sent = 0;
    String lastError = null;
    while (System.nanoTime() < deadline) {
      try {
        OutboxRelay.Round round = relay.relayOnce();
        sent += round.sent();
        sentCounter.increment(round.sent());
        if (round.failed() == 0 && round.sent() < config.batchSize()) {
          if (sent > 0) {
            LOG.infof("outbox: %d message(s) sent before exiting", sent);
          }
          return;
        }
        lastError = round.lastError();
      } catch (Exception e) {
        lastError = e.toString();
      }
      LockSupport.parkNanos(FIRST_BACKOFF.toNanos());
    }
    LOG.warnf(
        "outbox: exiting with messages unsent after %s (the next gateway sends them): %s",
        config.drainTimeout(), lastError);
  }
}
