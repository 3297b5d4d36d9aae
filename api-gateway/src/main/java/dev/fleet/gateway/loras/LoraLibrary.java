package dev.fleet.gateway.loras;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.LoraRef;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The LoRAs jobs may name: the {@code .safetensors} files of one configured directory, a name being
 * a file's stem. Only a file's header is read (its keys, dtypes and shapes), once per size and
 * modification time, to tell its layout, its rank and the bytes its factors take on a GPU. The
 * engine reads the whole file on the worker and is the final judge of every key.
 */
@ApplicationScoped
public class LoraLibrary {
  static final String SUFFIX = ".safetensors";
  private static final long MAX_HEADER = 100L << 20;

  /**
   * One LoRA file as the gateway sees it.
   *
   * @param format {@code kohya}, {@code diffusers}, {@code xlabs}, {@code bfl}, or {@code
   *     unsupported} (then {@code problem} says why)
   * @param rank the largest rank of its modules (0 when unknown)
   * @param deviceBytes its factors in fp16, what a job adds to GPU memory
   */
  public record Info(
      String name,
      long bytes,
      String format,
      int rank,
      int modules,
      long deviceBytes,
      String problem) {
    public boolean usable() {
      return problem == null;
    }
  }

  private record Cached(long size, long modified, Info info) {}

  private final Path dir;
  private final ObjectMapper json;
  private final Map<Path, Cached> cache = new ConcurrentHashMap<>();

  public LoraLibrary(LorasConfig config, ObjectMapper json) {
    this.dir = Path.of(config.dir()).toAbsolutePath().normalize();
    this.json = json;
  }

  public Path dir() {
    return dir;
  }

  /** Every LoRA file of the directory, by name; none when the directory does not exist. */
  public List<Info> list() {
    List<Info> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
      for (Path f : files) {
        String stem = f.getFileName().toString();
        stem = stem.substring(0, stem.length() - SUFFIX.length());
        if (LoraRef.nameProblem(stem) == null && Files.isRegularFile(f)) {
          info(stem, f).ifPresent(out::add);
        }
      }
    } catch (IOException e) {
      return out;
    }
    out.sort(Comparator.comparing(Info::name));
    return out;
  }

  /** The LoRA {@code name}, if its file exists. */
  public Optional<Info> find(String name) {
    if (LoraRef.nameProblem(name) != null) {
      return Optional.empty();
    }
    Path f = dir.resolve(name + SUFFIX);
    if (!f.normalize().startsWith(dir) || !Files.isRegularFile(f)) {
      return Optional.empty();
    }
    return info(name, f);
  }

  private Optional<Info> info(String name, Path file) {
    long size;
    long modified;
    try {
      size = Files.size(file);
      modified = Files.getLastModifiedTime(file).toMillis();
    } catch (IOException e) {
      return Optional.empty();
    }
    Cached hit = cache.get(file);
    if (hit != null && hit.size() == size && hit.modified() == modified) {
      return Optional.of(hit.info());
    }
    Info info = read(name, file, size);
    cache.put(file, new Cached(size, modified, info));
    return Optional.of(info);
  }

  private Info read(String name, Path file, long size) {
    JsonNode header;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      while (len.hasRemaining() && ch.read(len) >= 0) {}
      if (len.hasRemaining()) {
        return unsupported(name, size, "not a safetensors file (shorter than 8 bytes)");
      }
      long n = len.flip().getLong();
      if (n <= 0 || n > MAX_HEADER || n > size - 8) {
        return unsupported(name, size, "not a safetensors file (header length " + n + ")");
      }
      ByteBuffer h = ByteBuffer.allocate((int) n);
      while (h.hasRemaining() && ch.read(h) >= 0) {}
      header = json.readTree(h.array());
    } catch (IOException e) {
      return unsupported(name, size, "not a readable safetensors file: " + e.getMessage());
    }
    if (header == null || !header.isObject()) {
      return unsupported(name, size, "not a safetensors file (no JSON header)");
    }
    return classify(name, size, header);
  }

  static Info classify(String name, long size, JsonNode header) {
    int rank = 0;
    int modules = 0;
    long elements = 0;
    String format = null;
    List<String> textEncoder = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : header.properties()) {
      String key = e.getKey();
      if (key.equals("__metadata__")) {
        continue;
      }
      // CLIP's adapters (kohya lora_te1_, diffusers/PEFT text_encoder.) are applied by the
      // engine; T5's (lora_te2_, text_encoder_2.) and other text encoders' are not.
      boolean clip = key.startsWith("lora_te1_") || key.startsWith("text_encoder.");
      if (!clip && (key.startsWith("lora_te") || key.startsWith("text_encoder"))) {
        textEncoder.add(key);
        continue;
      }
      JsonNode shape = e.getValue().path("shape");
      long count = 1;
      for (JsonNode d : shape) {
        count *= d.asLong();
      }
      boolean down =
          key.endsWith(".lora_down.weight")
              || key.endsWith(".lora_A.weight")
              || key.endsWith(".lora_A.default.weight")
              || key.endsWith(".down.weight");
      boolean up =
          key.endsWith(".lora_up.weight")
              || key.endsWith(".lora_B.weight")
              || key.endsWith(".lora_B.default.weight")
              || key.endsWith(".up.weight");
      if (down || up) {
        elements += count;
      }
      if (down) {
        modules++;
        if (shape.size() >= 1) {
          rank = Math.max(rank, shape.get(0).asInt());
        }
      }
      if (format == null && (down || up)) {
        format = formatOf(key);
      }
    }
    if (!textEncoder.isEmpty()) {
      return new Info(
          name,
          size,
          "unsupported",
          rank,
          modules,
          elements * 2,
          "T5 text-encoder LoRA keys are not supported, only the DiT's and CLIP's"
              + " (lora_te1_ / text_encoder.) (e.g. "
              + textEncoder.get(0)
              + ")");
    }
    if (format == null || modules == 0) {
      return unsupported(name, size, "no LoRA factors (lora_down/lora_up, lora_A/lora_B)");
    }
    return new Info(name, size, format, rank, modules, elements * 2, null);
  }

  private static String formatOf(String key) {
    if (key.startsWith("lora_unet_") || key.startsWith("lora_te1_")) {
      return "kohya";
    }
    if (key.contains(".processor.")) {
      return "xlabs";
    }
    if (key.startsWith("lora_transformer_")
        || key.startsWith("text_encoder.")
        || key.startsWith("transformer.")
        || key.startsWith("base_model.model.")
        || key.contains("transformer_blocks.")) {
      return "diffusers";
    }
    return "bfl";
  }

  private static Info unsupported(String name, long size, String why) {
    return new Info(name, size, "unsupported", 0, 0, 0, why);
  }
}
