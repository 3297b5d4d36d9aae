package dev.fleet.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(FleetStackExtension.class)
class KafkaStackTest {

  @Test
  void producedRecordIsConsumedFromAnAutoCreatedTopic(StackEndpoints stack) throws Exception {
    String topic = "jobs-" + UUID.randomUUID();

    StackClients.produce(stack, topic, "job-1", "{\"prompt\":\"a red fox\"}");
    var records = StackClients.consume(stack, topic, 1, Duration.ofSeconds(30));

    assertEquals(1, records.size());
    ConsumerRecord<String, String> record = records.getFirst();
    assertEquals("job-1", record.key());
    assertEquals("{\"prompt\":\"a red fox\"}", record.value());
  }
}
