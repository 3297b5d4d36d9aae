/**
 * Model families as values: {@link dev.fleet.engine.family.ModelFamily} is what the engine's CLI,
 * benchmarks and worker ask for a model's dimensions, its memory formulas, its presets and its
 * pipeline; {@link dev.fleet.engine.family.ModelFamilies} registers the families and finds the one
 * of a model directory. FLUX ({@code FluxFamily}) is the one family today. Adding one is adding a
 * package with its components, a class here implementing {@code ModelFamily} and one entry in
 * {@code ModelFamilies} (see docs/MODEL_FAMILIES.md).
 */
package dev.fleet.engine.family;
