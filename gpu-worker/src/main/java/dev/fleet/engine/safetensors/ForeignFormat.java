package dev.fleet.engine.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Checkpoint formats the engine recognises by their first bytes but does not read as safetensors,
 * each with what to use instead: GGUF (llama.cpp's container, as city96's quantized FLUX files,
 * which only a transformer checkpoint may be, see {@code dev.fleet.engine.gguf.GgufFile}),
 * PyTorch's zip archives ({@code torch.save} since 1.6: {@code .pt}, {@code .ckpt}, {@code .bin})
 * and bare pickles (older {@code torch.save}). Sniffed before a file is read as safetensors, so
 * that such a file is refused by name rather than as a corrupt header.
 */
public enum ForeignFormat {
  GGUF(
      "GGUF",
      "llama.cpp's container, e.g. city96's quantized FLUX files",
      "GGUF loads only as a transformer checkpoint (--dit) with F32, F16, BF16 or Q8_0 tensors;"
          + " otherwise use the model's safetensors release: bf16, or fp8 e4m3fn (plain or ComfyUI"
          + " \"scaled fp8\"), which the engine stores as fp8 and widens on the device"),
  PYTORCH_ZIP(
      "PyTorch zip archive",
      "torch.save: .pt, .ckpt, .bin",
      "convert it to safetensors (safetensors.torch.save_file) or use the model's safetensors"
          + " release; pickled checkpoints can run code and are never loaded"),
  PICKLE(
      "Python pickle",
      "legacy torch.save",
      "convert it to safetensors (safetensors.torch.save_file) or use the model's safetensors"
          + " release; pickled checkpoints can run code and are never loaded");

  private final String label;
  private final String detail;
  private final String instead;

  ForeignFormat(String label, String detail, String instead) {
    this.label = label;
    this.detail = detail;
    this.instead = instead;
  }

  /** The format's name, for messages. */
  public String label() {
    return label;
  }

  /** What to use instead. */
  public String instead() {
    return instead;
  }

  /**
   * The foreign format the first bytes of a file announce, or null when they announce none (the
   * file may still be safetensors, or something else).
   *
   * @param head the file's first bytes (at least 4 are looked at; fewer match nothing)
   */
  public static ForeignFormat sniff(byte[] head) {
    if (head.length < 4) {
      return null;
    }
    String magic = new String(head, 0, 4, StandardCharsets.ISO_8859_1);
    if (magic.equals("GGUF")) {
      return GGUF;
    }
    if (magic.equals("PK\u0003\u0004")) {
      return PYTORCH_ZIP;
    }
    // Pickle protocol 2..5 starts with PROTO (0x80) and the protocol number.
    if ((head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5) {
      return PICKLE;
    }
    return null;
  }

  /** The GGUF version in a GGUF file's bytes 4..7 (little-endian), or -1 when not there. */
  static long ggufVersion(byte[] head) {
    if (head.length < 8) {
      return -1;
    }
    return ByteBuffer.wrap(head, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
  }

  /** The refusal for a file of this format. */
  SafetensorsException refusal(String file, byte[] head) {
    String version = this == GGUF && ggufVersion(head) > 0 ? " v" + ggufVersion(head) : "";
    return new SafetensorsException(
        file,
        null,
        "this is a "
            + label
            + version
            + " file ("
            + detail
            + "), not safetensors: the engine loads safetensors checkpoints only; "
            + instead);
  }
}
