package dev.fleet.engine.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.engine.bench.JobBenchmark.JobBenchResult;
import dev.fleet.engine.bench.JobBenchmark.JobTimes;
import dev.fleet.model.memory.PhasePeaks;
import dev.fleet.model.memory.Plan;

/**
 * A whole-job benchmark's result as one JSON object: the plan's predictions beside the measures.
 */
public final class JobBenchJson {
  private static final ObjectMapper JSON = new ObjectMapper();

  private JobBenchJson() {}

  public static String of(JobBenchResult r, long budgetBytes) {
    ObjectNode o = JSON.createObjectNode();
    o.put("model", r.model());
    o.put("device", r.device());
    o.put("engine", r.engine());
    o.put("width", r.width());
    o.put("height", r.height());
    o.put("steps", r.steps());
    o.put("budgetBytes", budgetBytes);
    Plan chosen = r.decision().chosen();
    o.put("plan", chosen.name());
    o.put("residentDoubleBlocks", chosen.dit().residentDoubleBlocks());
    o.put("residentSingleBlocks", chosen.dit().residentSingleBlocks());
    ObjectNode predicted = o.putObject("predictedDeviceBytes");
    PhasePeaks p = chosen.phases();
    long reserve = r.decision().reserveBytes();
    predicted.put("t5", p.t5() + reserve);
    predicted.put("clip", p.clip() + reserve);
    predicted.put("denoise", p.denoise() + reserve);
    predicted.put("decode", p.decode() + reserve);
    o.put("loadSeconds", round(r.loadSeconds()));
    ArrayNode jobs = o.putArray("jobs");
    for (JobTimes t : r.jobs()) {
      ObjectNode j = jobs.addObject();
      j.put("plan", t.plan());
      j.put("totalSeconds", round(t.totalSeconds()));
      ObjectNode s = j.putObject("seconds");
      t.seconds().forEach((k, v) -> s.put(k, round(v)));
      Double denoise = t.seconds().get("denoise");
      if (denoise != null) {
        j.put("secondsPerStep", round(denoise / r.steps()));
      }
      ObjectNode m = j.putObject("measuredPeakDeviceBytes");
      t.measuredPeakBytes().forEach(m::put);
      j.put("bookedPeakBytes", t.bookedPeakBytes());
    }
    return o.toString();
  }

  private static double round(double seconds) {
    return Math.round(seconds * 1e4) / 1e4;
  }
}
