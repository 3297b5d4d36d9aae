package dev.fleet.engine.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The card's used memory as {@code nvidia-smi} reports it, sampled every 20 ms in the background:
 * device-wide, CUDA context and the caching allocator's reserve included, which is what an 8 GB
 * card would run out of. Sampling from outside the process needs no synchronisation in the timed
 * loop.
 */
final class GpuMemoryProbe implements AutoCloseable {
  private final Process process;
  private final Thread reader;
  private final AtomicLong maxMib = new AtomicLong(-1);
  private final AtomicLong firstMib = new AtomicLong(-1);
  private final AtomicLong windowMib = new AtomicLong(-1);

  private GpuMemoryProbe(Process process) {
    this.process = process;
    this.reader = new Thread(this::read, "gpu-memory-probe");
    reader.setDaemon(true);
    reader.start();
  }

  /** A running probe, or null when nvidia-smi cannot be started (no NVIDIA driver). */
  static GpuMemoryProbe start(int deviceIndex) {
    try {
      Process p =
          new ProcessBuilder(
                  "nvidia-smi",
                  "--id=" + deviceIndex,
                  "--query-gpu=memory.used",
                  "--format=csv,noheader,nounits",
                  "-lms",
                  "20")
              .redirectErrorStream(true)
              .start();
      return new GpuMemoryProbe(p);
    } catch (IOException e) {
      return null;
    }
  }

  private void read() {
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        try {
          long mib = Long.parseLong(line.trim());
          firstMib.compareAndSet(-1, mib);
          maxMib.accumulateAndGet(mib, Math::max);
          windowMib.accumulateAndGet(mib, Math::max);
        } catch (NumberFormatException ignored) {
          // a header or warning line
        }
      }
    } catch (IOException ignored) {
      // the process was stopped
    }
  }

  /** Largest device-wide use seen so far, in bytes (-1 before the first sample). */
  long peakBytes() {
    long m = maxMib.get();
    return m < 0 ? -1 : m << 20;
  }

  /**
   * Largest device-wide use since the previous call (or the start), in bytes (-1 when no sample
   * came in between); starts the next window.
   */
  long takeWindowPeakBytes() {
    long m = windowMib.getAndSet(-1);
    return m < 0 ? -1 : m << 20;
  }

  /** Device-wide use at the first sample, in bytes (-1 before it). */
  long firstBytes() {
    long m = firstMib.get();
    return m < 0 ? -1 : m << 20;
  }

  @Override
  public void close() {
    process.destroy();
  }
}
