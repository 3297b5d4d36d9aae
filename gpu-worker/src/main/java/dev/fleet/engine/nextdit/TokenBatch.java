package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/**
 * Token ids of several prompts, right-padded to a common length as Hugging Face tokenizers pad a
 * batch ({@code padding="longest"}, optionally rounded up to a multiple), with the attention mask.
 *
 * @param ids rows of equal length
 * @param mask 1 for a token, 0 for padding
 */
public record TokenBatch(long[][] ids, long[][] mask) {

  /**
   * Pads {@code rows} to the longest, rounded up to {@code multipleOf} (1 for none), with {@code
   * padId}.
   */
  public static TokenBatch pad(List<long[]> rows, long padId, int multipleOf) {
    if (rows.isEmpty() || multipleOf < 1) {
      throw new IllegalArgumentException("need at least one row and a multiple of at least 1");
    }
    int longest = 0;
    for (long[] r : rows) {
      longest = Math.max(longest, r.length);
    }
    int length = (longest + multipleOf - 1) / multipleOf * multipleOf;
    long[][] ids = new long[rows.size()][length];
    long[][] mask = new long[rows.size()][length];
    for (int i = 0; i < rows.size(); i++) {
      long[] r = rows.get(i);
      for (int j = 0; j < length; j++) {
        ids[i][j] = j < r.length ? r[j] : padId;
        mask[i][j] = j < r.length ? 1 : 0;
      }
    }
    return new TokenBatch(ids, mask);
  }

  public int length() {
    return ids[0].length;
  }

  /** The ids as a (B, L) int64 array on {@code m}. */
  public NDArray idsArray(NDManager m) {
    return create(m, ids);
  }

  /** The mask as a (B, L) int64 array on {@code m}. */
  public NDArray maskArray(NDManager m) {
    return create(m, mask);
  }

  private static NDArray create(NDManager m, long[][] rows) {
    int l = rows[0].length;
    long[] flat = new long[rows.length * l];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(rows[i], 0, flat, i * l, l);
    }
    return m.create(flat, new Shape(rows.length, l));
  }
}
