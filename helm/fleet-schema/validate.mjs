// Validates the fleet chart's rendered objects against the Kubernetes API's OpenAPI schemas
// (npm kubernetes-models 4.5.1: Kubernetes 1.33) and KEDA's ScaledObject CRD schema
// (@kubernetes-models/keda 0.4.2: keda.sh/v1alpha1). Every document of every file given must be
// a kind these packages know; an unknown kind fails too (nothing is skipped).
//   node validate.mjs RENDERED.yaml...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);

// "apps/v1" Deployment -> kubernetes-models/apps/v1/Deployment; "v1" Service -> kubernetes-models/v1/Service.
function modelOf(apiVersion, kind) {
  const candidates = apiVersion.startsWith("keda.sh/")
    ? [`@kubernetes-models/keda/${apiVersion}/${kind}`]
    : [`kubernetes-models/${apiVersion}/${kind}`];
  for (const path of candidates) {
    try {
      return require(path)[kind];
    } catch (e) {
      if (e.code !== "MODULE_NOT_FOUND") throw e;
    }
  }
  return undefined;
}

export function validate(object) {
  const { apiVersion, kind } = object ?? {};
  if (!apiVersion || !kind) return ["no apiVersion or kind"];
  const Model = modelOf(apiVersion, kind);
  if (!Model) return [`${apiVersion} ${kind}: no schema for this kind (not in Kubernetes 1.33 or KEDA's CRDs)`];
  try {
    new Model(object).validate();
    return [];
  } catch (e) {
    return (e.errors ?? [{ message: e.message }]).map(
      (x) => `${x.instancePath ?? x.dataPath ?? ""} ${x.message}${x.params ? " " + JSON.stringify(x.params) : ""}`,
    );
  }
}

// The validator must have teeth: objects that break the schemas must be refused.
function selfTest() {
  const bad = [
    { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "two", selector: {}, template: {} } },
    { apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: "http" }] } },
    { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "x" }, spec: { triggers: [] } },
    { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "x" }, spec: { scaleTargetRef: { name: "d" }, triggers: [{ type: "kafka", metadata: {} }], minReplicaCount: "zero" } },
  ];
  for (const o of bad) {
    if (validate(o).length === 0) {
      console.error(`schema: self-test failed: an invalid ${o.kind} passed (${JSON.stringify(o.spec)})`);
      process.exit(2);
    }
  }
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs RENDERED.yaml...");
  process.exit(2);
}
selfTest();
let failures = 0;
for (const file of files) {
  const kinds = {};
  let n = 0;
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const object = doc.toJS();
    if (object == null) continue;
    n++;
    const errors = validate(object);
    const name = `${object.kind}/${object.metadata?.name}`;
    kinds[object.kind] = (kinds[object.kind] ?? 0) + 1;
    for (const e of errors) console.error(`${file}: ${name}: ${e}`);
    if (errors.length) failures++;
  }
  if (n === 0) {
    console.error(`${file}: no objects`);
    failures++;
  }
  console.log(`schema: ${file.split("/").pop()}: ${n} objects (${Object.entries(kinds).map(([k, v]) => `${v} ${k}`).join(", ")}) ${failures ? "" : "valid"}`);
}
if (failures) {
  console.error(`schema: ${failures} invalid object(s)`);
  process.exit(1);
}
console.log("schema: every object valid against Kubernetes 1.33 and KEDA keda.sh/v1alpha1 schemas");
