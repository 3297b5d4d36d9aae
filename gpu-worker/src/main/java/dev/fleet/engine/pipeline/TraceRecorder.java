package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.fleet.engine.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;

/** Collects a generation's intermediates as float32 tensors and writes them as safetensors. */
public final class TraceRecorder implements GenerationListener {
  private final SafetensorsWriter writer = new SafetensorsWriter();

  @Override
  public boolean wantsTensors() {
    return true;
  }

  @Override
  public void onTensor(String name, NDArray value) {
    NDArray f = value.toType(DataType.FLOAT32, false);
    writer.addFloats(name, f.getShape().getShape(), f.toFloatArray());
    if (f != value) {
      f.close();
    }
  }

  public void write(Path out) throws IOException {
    writer.write(out);
  }
}
