// Package policy is Kiln's release policy engine, the "Conforma" half of the
// product: it evaluates Rego rules over what Kiln knows about each image of
// a Snapshot (verified attestations, the snapshot itself, integration test
// results) and returns a Verdict.
//
// Rules are written like Conforma's: `deny contains result if {…}` and
// `warn contains result if {…}` in packages policy.release.<pkg>, with
// METADATA comments (custom.short_name, failure_msg, collections,
// effective_on). A Policy's sources select them with include and exclude,
// with Conforma's precedence. Kiln ships the collections "minimal" and
// "slsa3" under the location kiln://rules. See README.md.
//
//	eng, err := policy.Compile(ctx, pol.Spec, time.Now)
//	res, err := eng.Evaluate(ctx, "greet", in) // one artifact
//	verdict := policy.Evaluate(ctx, eng, inputs) // a whole snapshot
package policy
