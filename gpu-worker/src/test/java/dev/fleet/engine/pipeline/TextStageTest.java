package dev.fleet.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.text.TextEmbeddings;
import dev.fleet.engine.tokenizer.PromptTokenizer;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.model.memory.Residency;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The text stage with counting stand-in encoders: cache hits skip them, staging frees them. */
class TextStageTest {
  private static final long ENCODER_BYTES = 1000;
  private static final long ACTIVATION_BYTES = 300;

  private final AtomicInteger loaded = new AtomicInteger();
  private final AtomicInteger encoded = new AtomicInteger();
  private final AtomicInteger closed = new AtomicInteger();

  private TextStage stage(Residency t5, PromptEmbeddingCache cache, DeviceLedger ledger) {
    return new TextStage(
        PromptTokenizer.clip(Fixtures.MODEL.resolve("tokenizer")),
        PromptTokenizer.t5(Fixtures.MODEL.resolve("tokenizer_2"), 512),
        () -> {
          loaded.incrementAndGet();
          return new TextStage.Encoders() {
            @Override
            public TextEmbeddings encode(long[] t5Ids, long[] clipIds, NDManager m) {
              encoded.incrementAndGet();
              assertEquals(ENCODER_BYTES + ACTIVATION_BYTES, ledger.inUseBytes());
              return new TextEmbeddings(
                  m.full(new Shape(1, t5Ids.length, 4), t5Ids[0]),
                  m.full(new Shape(1, 2), clipIds[1]));
            }

            @Override
            public void close() {
              closed.incrementAndGet();
            }
          };
        },
        ENCODER_BYTES,
        ACTIVATION_BYTES,
        t5,
        null,
        cache,
        "fake-encoders",
        ComputeTarget.cpu(),
        ledger);
  }

  @Test
  void aRepeatedPromptDoesNotCallTheEncoders() {
    DeviceLedger ledger = new DeviceLedger(ENCODER_BYTES + ACTIVATION_BYTES);
    PromptEmbeddingCache cache = new PromptEmbeddingCache(8, 1 << 20);
    try (NDManager job = NDManager.newBaseManager();
        TextStage text = stage(Residency.STAGED, cache, ledger)) {
      assertEquals(0, loaded.get(), "staged encoders are not loaded up front");
      try (TextEmbeddings first = text.embed("a fox", job)) {
        assertEquals(new Shape(1, 32, 4), first.t5().getShape());
      }
      assertEquals(1, loaded.get());
      assertEquals(1, encoded.get());
      assertEquals(1, closed.get(), "staged encoders are released after the encode");
      assertEquals(0, ledger.inUseBytes(), "and so are their bookings");
      float[] again;
      try (TextEmbeddings second = text.embed("a fox", job)) {
        again = second.t5().toFloatArray();
      }
      assertEquals(1, loaded.get(), "a cache hit loads nothing");
      assertEquals(1, encoded.get(), "a cache hit encodes nothing");
      assertEquals(1, text.encoderRuns());
      text.embed("a dog", job).close();
      assertEquals(2, encoded.get());
      assertEquals(2, cache.size());
      assertTrue(again.length == 32 * 4);
      assertEquals(0, job.getManagedArrays().size(), "embeddings belong to the caller");
    }
  }

  @Test
  void residentEncodersStayBookedUntilClosed() {
    DeviceLedger ledger = DeviceLedger.unlimited();
    try (NDManager job = NDManager.newBaseManager()) {
      try (TextStage text =
          stage(Residency.RESIDENT, new PromptEmbeddingCache(8, 1 << 20), ledger)) {
        assertEquals(1, loaded.get());
        assertEquals(ENCODER_BYTES, ledger.inUseBytes());
        text.embed("a fox", job).close();
        text.embed("a cat", job).close();
        assertEquals(1, loaded.get());
        assertEquals(2, encoded.get());
        assertEquals(0, closed.get());
        assertEquals(ENCODER_BYTES + ACTIVATION_BYTES, ledger.peakBytes());
      }
      assertEquals(1, closed.get());
      assertEquals(0, ledger.inUseBytes());
    }
  }

  @Test
  void stagedEncodersBeyondTheBudgetAreRefusedBeforeLoading() {
    DeviceLedger ledger = new DeviceLedger(ENCODER_BYTES - 1);
    try (NDManager job = NDManager.newBaseManager();
        TextStage text = stage(Residency.STAGED, new PromptEmbeddingCache(8, 1 << 20), ledger)) {
      BudgetExceededException e =
          assertThrows(BudgetExceededException.class, () -> text.embed("a fox", job));
      assertTrue(e.getMessage().contains("text encoders staged"), e.getMessage());
      assertEquals(0, loaded.get());
      assertEquals(0, ledger.inUseBytes());
    }
  }

  @Test
  void aStreamedT5StagesClipUnderItsOwnNameAndACacheHitLoadsNothing() {
    DeviceLedger ledger = new DeviceLedger(ENCODER_BYTES + ACTIVATION_BYTES);
    try (NDManager job = NDManager.newBaseManager();
        TextStage text = stage(Residency.STREAMED, new PromptEmbeddingCache(8, 1 << 20), ledger)) {
      assertEquals(Residency.STREAMED, text.t5());
      assertEquals(0, loaded.get(), "nothing loaded up front");
      text.embed("a fox", job).close();
      assertEquals(1, loaded.get());
      assertEquals(1, closed.get());
      assertEquals(
          List.of("clip staged (1000 B)", "text activations (300 B)"), ledger.bookingsAtPeak());
      text.embed("a fox", job).close();
      assertEquals(1, loaded.get(), "a cache hit loads no encoder");
      assertEquals(1, encoded.get());
      assertEquals(0, text.t5BytesStreamed(), "no streamed T5 behind the stand-ins");
      assertEquals(0, ledger.inUseBytes());
    }
  }
}
