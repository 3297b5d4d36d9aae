package dev.fleet.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One LoRA of a job, by name (a file of the fleet's LoRA directory, never a client path) at a
 * strength: {@code ΔW = strength · (alpha / rank) · up · down}.
 *
 * @param name the LoRA's name, without {@code .safetensors}
 * @param strength any finite number (the gateway limits it further); 0 applies nothing
 */
public record LoraRef(String name, double strength) {

  /** Longest name accepted. */
  public static final int MAX_NAME_CHARS = 128;

  private static final Pattern JSON_ITEM =
      Pattern.compile("\\{\"name\":\"([^\"\\\\]*)\",\"strength\":([-+0-9.eE]+)\\}");

  /**
   * Why {@code name} cannot name a LoRA file, or null when it can: a file stem, so no path
   * separators, no {@code ..}, no quotes or control characters, at most {@link #MAX_NAME_CHARS}.
   */
  public static String nameProblem(String name) {
    if (name == null || name.isBlank()) {
      return "must not be empty";
    }
    if (name.length() > MAX_NAME_CHARS) {
      return "has " + name.length() + " characters, at most " + MAX_NAME_CHARS + " allowed";
    }
    if (name.contains("..") || name.startsWith(".")) {
      return "must be a file name without '..' or a leading '.'";
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '/' || c == '\\' || c == ':' || c == '"' || c < 0x20 || c == 0x7f) {
        return "must be a file name without path separators, ':', quotes or control characters";
      }
    }
    return null;
  }

  /** {@code [{"name":"a","strength":0.7},…]}: how LoRAs are stored and sent. */
  public static String toJson(List<LoraRef> loras) {
    StringBuilder b = new StringBuilder("[");
    for (LoraRef l : loras) {
      if (b.length() > 1) {
        b.append(',');
      }
      b.append("{\"name\":\"")
          .append(l.name())
          .append("\",\"strength\":")
          .append(l.strength())
          .append('}');
    }
    return b.append(']').toString();
  }

  /** Reads what {@link #toJson} wrote; null or empty text is no LoRA. */
  public static List<LoraRef> fromJson(String json) {
    List<LoraRef> out = new ArrayList<>();
    if (json == null || json.isBlank()) {
      return out;
    }
    Matcher m = JSON_ITEM.matcher(json);
    while (m.find()) {
      out.add(new LoraRef(m.group(1), Double.parseDouble(m.group(2))));
    }
    return out;
  }

  /** The A1111 prompt tag, {@code <lora:name:0.7>}. */
  public String tag() {
    return "<lora:" + name + ":" + strengthText() + ">";
  }

  /** The strength as people write it: {@code 0.7}, {@code 1}, {@code -0.25}. */
  public String strengthText() {
    if (strength == Math.rint(strength) && Math.abs(strength) < 1e9) {
      return Long.toString((long) strength);
    }
    return String.format(Locale.ROOT, "%s", strength);
  }
}
