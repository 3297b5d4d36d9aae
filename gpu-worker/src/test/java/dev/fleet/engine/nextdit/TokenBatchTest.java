package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Batch padding and the texts each encoder reads. */
class TokenBatchTest {

  @Test
  void padsToTheLongestRoundedUpToTheMultiple() {
    TokenBatch b = TokenBatch.pad(List.of(new long[] {2, 5, 6}, new long[] {2}), 0, 8);
    assertEquals(8, b.length());
    assertArrayEquals(new long[] {2, 5, 6, 0, 0, 0, 0, 0}, b.ids()[0]);
    assertArrayEquals(new long[] {1, 1, 1, 0, 0, 0, 0, 0}, b.mask()[0]);
    assertArrayEquals(new long[] {2, 0, 0, 0, 0, 0, 0, 0}, b.ids()[1]);
    assertArrayEquals(new long[] {1, 0, 0, 0, 0, 0, 0, 0}, b.mask()[1]);
  }

  @Test
  void withoutAMultipleThePaddingStopsAtTheLongestRow() {
    TokenBatch b = TokenBatch.pad(List.of(new long[] {0, 9, 2}, new long[] {0, 2}), 1, 1);
    assertEquals(3, b.length());
    assertArrayEquals(new long[] {0, 2, 1}, b.ids()[1]);
    assertThrows(IllegalArgumentException.class, () -> TokenBatch.pad(List.of(), 1, 1));
  }

  @Test
  void gemmaReadsTheSystemPromptAndAnEmptyNegativeStaysEmpty() {
    NewbieRequest r = new NewbieRequest("a cat", "", "SYS ", 1, 64, 64, 4, 5f, 1f, 1f, 6f);
    assertArrayEquals(new String[] {"SYS a cat", ""}, r.gemmaTexts());
    assertArrayEquals(new String[] {"a cat", ""}, r.jinaTexts());
    NewbieRequest n = new NewbieRequest("a cat", "blurry", "SYS ", 1, 64, 64, 4, 5f, 1f, 1f, 6f);
    assertArrayEquals(new String[] {"SYS a cat", "SYS blurry"}, n.gemmaTexts());
    assertArrayEquals(new String[] {"a cat", "blurry"}, n.jinaTexts());
  }
}
