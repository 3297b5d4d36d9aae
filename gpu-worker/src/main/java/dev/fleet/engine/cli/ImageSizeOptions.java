package dev.fleet.engine.cli;

import picocli.CommandLine.Option;

/** {@code --width W --height H}: the image a command makes or plans for (a picocli mixin). */
final class ImageSizeOptions {
  @Option(
      names = "--width",
      paramLabel = "W",
      converter = NumberConverters.IntValue.class,
      description = "image width (default 1024)")
  int width = 1024;

  @Option(
      names = "--height",
      paramLabel = "H",
      converter = NumberConverters.IntValue.class,
      description = "image height (default 1024)")
  int height = 1024;
}
