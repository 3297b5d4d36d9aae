package dev.fleet.engine.cli;

import dev.fleet.engine.lora.AppliedLora;
import dev.fleet.engine.lora.LoraReader;
import dev.fleet.engine.lora.LoraStack;
import dev.fleet.model.LoraRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --lora FILE[:STRENGTH]}: a LoRA file and its strength, 1.0 when omitted. The text after
 * the last {@code :} is the strength when it parses as a number; otherwise the whole value is the
 * file (so {@code C:\\loras\\a.safetensors} or a name with a colon stays a path).
 *
 * @param file the LoRA file
 * @param strength its strength
 */
record LoraOption(Path file, double strength) {

  static LoraOption parse(String value) {
    int colon = value.lastIndexOf(':');
    if (colon > 0 && colon < value.length() - 1) {
      String tail = value.substring(colon + 1).trim();
      try {
        double s = Double.parseDouble(tail);
        if (!Double.isFinite(s)) {
          throw new UsageException("--lora " + value + ": the strength must be a finite number");
        }
        return new LoraOption(Path.of(value.substring(0, colon)), s);
      } catch (NumberFormatException notANumber) {
        // part of the path
      }
    }
    return new LoraOption(Path.of(value), 1.0);
  }

  /** The adapter's name: the file's name without {@code .safetensors}. */
  String name() {
    String n = file.getFileName().toString();
    return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
  }

  /** Parses every {@code --lora} value. */
  static List<LoraOption> all(List<String> values) {
    return values.stream().map(LoraOption::parse).toList();
  }

  /** Reads the files (each must exist) into a stack. */
  static LoraStack read(List<LoraOption> options) {
    List<AppliedLora> loras = new ArrayList<>();
    for (LoraOption o : options) {
      if (!Files.isRegularFile(o.file())) {
        throw new UsageException("--lora: no such file " + o.file());
      }
      loras.add(new AppliedLora(LoraReader.read(o.file(), o.name()), o.strength()));
    }
    return new LoraStack(loras);
  }

  /** The references a spec records (the PNG's parameters). */
  static List<LoraRef> refs(List<LoraOption> options) {
    return options.stream().map(o -> new LoraRef(o.name(), o.strength())).toList();
  }
}
