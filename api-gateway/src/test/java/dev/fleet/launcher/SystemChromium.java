package dev.fleet.launcher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's Chromium and its driver ({@code apt-get install chromium chromium-driver}), installed
 * when missing and this runs as root on a machine with apt (as CI does); nothing is downloaded by
 * Selenium itself: the driver and the browser are given by path, so Selenium Manager never runs.
 */
final class SystemChromium {
  static final Path BROWSER = Path.of(System.getProperty("fleet.chromium", "/usr/bin/chromium"));
  static final Path DRIVER =
      Path.of(System.getProperty("fleet.chromedriver", "/usr/bin/chromedriver"));

  private SystemChromium() {}

  /**
   * Makes sure both are there.
   *
   * @throws IllegalStateException when they are missing and cannot be installed, with what to do
   */
  static void ensureInstalled() throws IOException, InterruptedException {
    if (present()) {
      return;
    }
    boolean root = "root".equals(System.getProperty("user.name"));
    boolean apt = Files.isExecutable(Path.of("/usr/bin/apt-get"));
    if (!root || !apt) {
      throw new IllegalStateException(
          "the console's browser tests need Debian's chromium and chromium-driver ("
              + BROWSER
              + ", "
              + DRIVER
              + "): apt-get install -y chromium chromium-driver");
    }
    System.out.println("SystemChromium: installing chromium and chromium-driver with apt-get");
    run(List.of("apt-get", "update", "-q"));
    run(List.of("apt-get", "install", "-y", "-q", "chromium", "chromium-driver"));
    if (!present()) {
      throw new IllegalStateException("apt-get installed chromium, but " + BROWSER + " is missing");
    }
  }

  private static boolean present() {
    return Files.isExecutable(BROWSER) && Files.isExecutable(DRIVER);
  }

  private static void run(List<String> command) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).inheritIO();
    pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
    Process p = pb.start();
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", command) + " took over 10 minutes");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue());
    }
  }
}
