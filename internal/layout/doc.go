// Package layout holds tests of the repository's shape: every package has a
// doc comment, and the import rules of ARCHITECTURE.md hold (the customer
// binary never links server code, the leaves never import each other).
package layout
