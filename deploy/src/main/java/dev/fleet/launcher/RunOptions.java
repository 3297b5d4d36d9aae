package dev.fleet.launcher;

import dev.fleet.model.cli.HelpOption;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code ./fleet run}'s options as picocli parses them; {@link RunMain#parse} checks what spans
 * several of them and makes its {@link RunMain.Args}. Each value is checked by its converter, whose
 * message follows the option's name ({@code --width must be a multiple of 16 ...}).
 */
@Command(
    name = "./fleet run",
    customSynopsis = RunMain.USAGE_LINE,
    description =
        "Generates one image through the fleet's HTTP API: the fleet at $FLEET_URL (default "
            + RunMain.DEFAULT_URL
            + ") if one answers, otherwise a throw-away local fleet. Options not given take the"
            + " model's defaults. Prints {\"id\", \"out\", \"seed\", \"seconds\"} as one JSON"
            + " line; progress goes to stderr.",
    footer = "Exit status: 0 done, 1 the job or the fleet failed, 2 bad arguments.")
final class RunOptions {
  @Mixin HelpOption help = new HelpOption();

  @Parameters(paramLabel = "PROMPT", arity = "0..*", description = "the prompt (quote it)")
  List<String> words = new ArrayList<>();

  @Option(
      names = "--prompt",
      paramLabel = "TEXT",
      converter = Text.class,
      description = "the prompt, as an option")
  String prompt;

  @Option(
      names = "--seed",
      paramLabel = "N",
      converter = Seed.class,
      description = "0 to 4294967295; -1 for a random one (the default)")
  Long seed;

  @Option(
      names = "--steps",
      paramLabel = "N",
      converter = Positive.class,
      description = "sampling steps")
  Integer steps;

  @Option(
      names = "--width",
      paramLabel = "W",
      converter = Side.class,
      description = "image width, a multiple of 16")
  Integer width;

  @Option(
      names = "--height",
      paramLabel = "H",
      converter = Side.class,
      description = "image height, a multiple of 16")
  Integer height;

  @Option(
      names = "--guidance",
      paramLabel = "G",
      converter = Finite.class,
      description = "guidance scale")
  Double guidance;

  @Option(
      names = "--model",
      paramLabel = "NAME",
      converter = Text.class,
      description = "a model of the gateway's registry (default: its default model)")
  String model;

  @Option(
      names = "--lora",
      paramLabel = "NAME[:S]",
      description =
          "a LoRA of the fleet's LoRA directory (GET /v1/loras) at strength S (default 1, -2 to"
              + " 2); repeatable")
  List<String> loras = new ArrayList<>();

  @Option(
      names = {"-o", "--out"},
      paramLabel = "FILE",
      converter = Text.class,
      description = "where to write the PNG (default fleet-<job id>.png)")
  String out;

  @Option(
      names = "--timeout",
      paramLabel = "SECONDS",
      converter = Positive.class,
      description = "how long to wait for the job (default 600)")
  Integer timeoutSeconds;

  /** The checkout, passed by {@code ./fleet} for booting a local fleet. */
  @Option(names = "--root", paramLabel = "DIR", converter = Text.class, hidden = true)
  String root;

  /** The worker's model directory, passed by {@code ./fleet}. */
  @Option(names = "--model-dir", paramLabel = "DIR", converter = Text.class, hidden = true)
  String modelDir;

  /** A value that must not be blank. */
  static final class Text implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (value.isBlank()) {
        throw new TypeConversionException("needs a value");
      }
      return value;
    }
  }

  /** An integer. */
  static final class Whole implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      try {
        return Long.parseLong(value.trim());
      } catch (NumberFormatException e) {
        throw new TypeConversionException("needs an integer, got \"" + value + "\"");
      }
    }
  }

  /** A seed: 0 to 2^32 - 1, or -1 for a random one. */
  static final class Seed implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      long s = new Whole().convert(value);
      if (s < -1 || s > 0xFFFF_FFFFL) {
        throw new TypeConversionException(
            "must be 0 to 4294967295, or -1 for a random seed, got " + value);
      }
      return s;
    }
  }

  /** A positive {@code int}. */
  static final class Positive implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      long n = new Whole().convert(value);
      if (n < 1 || n > Integer.MAX_VALUE) {
        throw new TypeConversionException("needs a positive integer, got " + value);
      }
      return (int) n;
    }
  }

  /**
   * Image sides are multiples of 16 for every FLUX model (the autoencoder's 8x and the DiT's 2x2
   * packing): refused here, before a local fleet is booted just to hear the gateway say so. The
   * model's range is the gateway's to check.
   */
  static final class Side implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      int n = new Positive().convert(value);
      if (n % 16 != 0) {
        int nearest = Math.max(16, Math.round(n / 16f) * 16);
        throw new TypeConversionException(
            "must be a multiple of 16, got " + n + " (nearest: " + nearest + ")");
      }
      return n;
    }
  }

  /** A finite number. */
  static final class Finite implements ITypeConverter<Double> {
    @Override
    public Double convert(String value) {
      try {
        double d = Double.parseDouble(value.trim());
        if (Double.isFinite(d)) {
          return d;
        }
      } catch (NumberFormatException e) {
        // below
      }
      throw new TypeConversionException("needs a number, got \"" + value + "\"");
    }
  }
}
