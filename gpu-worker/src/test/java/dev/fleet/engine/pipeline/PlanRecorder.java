package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import dev.fleet.model.GenerationSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;

/** Records a generation's traced tensors; also reads the fixture's case. */
final class PlanRecorder implements GenerationListener {
  final Map<String, float[]> tensors = new HashMap<>();

  @Override
  public boolean wantsTensors() {
    return true;
  }

  @Override
  public void onTensor(String name, NDArray value) {
    tensors.put(name, value.toType(DataType.FLOAT32, false).toFloatArray());
  }

  /** The generation of {@code case.json}. */
  static GenerationSpec fixtureCase() {
    try {
      JsonNode c = new ObjectMapper().readTree(Fixtures.CASE.toFile());
      return new GenerationSpec(
          c.get("prompt").asText(),
          c.get("seed").asLong(),
          c.get("steps").asInt(),
          c.get("width").asInt(),
          c.get("height").asInt(),
          c.get("guidance").asDouble(),
          "flux-tiny");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
