package dev.fleet.engine.gguf;

/**
 * The tensor types of GGUF files (ggml's {@code ggml_type} ids) the engine knows by name; those it
 * reads are F32, F16, BF16 and Q8_0 (blocks of 32 int8 with one float16 scale), the rest are named
 * in refusals.
 */
public enum GgmlType {
  F32(0, 1, 4),
  F16(1, 1, 2),
  Q4_0(2, 32, 18),
  Q4_1(3, 32, 20),
  Q5_0(6, 32, 22),
  Q5_1(7, 32, 24),
  Q8_0(8, 32, 34),
  Q8_1(9, 32, 36),
  Q2_K(10, 256, 84),
  Q3_K(11, 256, 110),
  Q4_K(12, 256, 144),
  Q5_K(13, 256, 176),
  Q6_K(14, 256, 210),
  Q8_K(15, 256, 292),
  BF16(30, 1, 2);

  private final int id;
  private final int blockElements;
  private final int blockBytes;

  GgmlType(int id, int blockElements, int blockBytes) {
    this.id = id;
    this.blockElements = blockElements;
    this.blockBytes = blockBytes;
  }

  public int id() {
    return id;
  }

  /** Elements per block (1 for the plain float types). */
  public int blockElements() {
    return blockElements;
  }

  /** Bytes per block. */
  public int blockBytes() {
    return blockBytes;
  }

  /** Whether the engine reads tensors of this type. */
  public boolean readable() {
    return this == F32 || this == F16 || this == BF16 || this == Q8_0;
  }

  /** Bytes of {@code elements} values, or -1 when they do not fill whole blocks. */
  public long bytes(long elements) {
    return elements % blockElements != 0 ? -1 : elements / blockElements * blockBytes;
  }

  /** The type with ggml's id {@code id}, or null when the engine does not know it. */
  public static GgmlType byId(long id) {
    for (GgmlType t : values()) {
      if (t.id == id) {
        return t;
      }
    }
    return null;
  }
}
