#!/usr/bin/awk -f
# bench2json.awk: turns `go test -bench . -benchmem` text output into JSON.
#
#   awk -v procs=2 -f scripts/bench2json.awk out/bench.txt > out/bench.json
#
# Output:
#   {"goos": "linux", "goarch": "amd64", "cpu": "...",
#    "benchmarks": [
#      {"package": "assist/capture", "name": "BenchmarkDiff/1080p-2",
#       "base": "BenchmarkDiff/1080p", "procs": 2, "iterations": 100,
#       "ns_per_op": 12345, "bytes_per_op": 0, "allocs_per_op": 0,
#       "metrics": {"ns/op": 12345, "MB/s": 167.9, "B/op": 0, "allocs/op": 0,
#                   "tiles/op": 510}}],
#    "failed": ["assist/capture"]}
#
# "name" is exactly what go test printed (benchstat-compatible). "base" strips
# the -GOMAXPROCS suffix when it equals -v procs=N (go omits the suffix when
# GOMAXPROCS is 1, so a trailing -N is only stripped when it matches).
# "metrics" has every unit on the line, custom b.ReportMetric units included.
# Numbers are copied as printed (no float rounding); a value that is not a
# JSON number is kept as a string.

function jstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	gsub(/\t/, "\\t", s)
	gsub(/\r/, "\\r", s)
	return "\"" s "\""
}

function jnum(v) {
	if (v ~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/)
		return v
	# Go may print "1.5e+06" style or a leading-zero-free ".5"; normalise the
	# one common non-JSON form, otherwise keep the text.
	if (v ~ /^\.[0-9]+$/)
		return "0" v
	return jstr(v)
}

function header(key, line) {
	sub("^" key ":[ \t]*", "", line)
	return line
}

# emit(name, fields from index i on of the current record)
function emit(name, first,    i, base, p, obj, metrics, unit, val, n) {
	base = name
	p = ""
	if (procs != "" && match(name, /-[0-9]+$/)) {
		if (substr(name, RSTART + 1) == procs) {
			base = substr(name, 1, RSTART - 1)
			p = procs
		}
	}
	if (p == "" && procs == "1")
		p = 1

	obj = "    {\"package\": " jstr(pkg) ", \"name\": " jstr(name) ", \"base\": " jstr(base)
	if (p != "")
		obj = obj ", \"procs\": " p
	obj = obj ", \"iterations\": " jnum($first)

	metrics = ""
	n = 0
	for (i = first + 1; i + 1 <= NF; i += 2) {
		val = $i
		unit = $(i + 1)
		if (unit == "ns/op")
			obj = obj ", \"ns_per_op\": " jnum(val)
		else if (unit == "B/op")
			obj = obj ", \"bytes_per_op\": " jnum(val)
		else if (unit == "allocs/op")
			obj = obj ", \"allocs_per_op\": " jnum(val)
		else if (unit == "MB/s")
			obj = obj ", \"mb_per_s\": " jnum(val)
		metrics = metrics (n++ ? ", " : "") jstr(unit) ": " jnum(val)
	}
	obj = obj ", \"metrics\": {" metrics "}}"
	out[nout++] = obj
}

BEGIN {
	pkg = ""
	pending = ""
	nout = 0
	nfail = 0
}

/^goos:/ { goos = header("goos", $0); next }
/^goarch:/ { goarch = header("goarch", $0); next }
/^cpu:/ { cpu = header("cpu", $0); next }
/^pkg:/ { pkg = header("pkg", $0); next }

# A complete result line: name, iterations, then value/unit pairs.
/^Benchmark[^ \t]*[ \t]+[0-9]+[ \t]+[-0-9.eE+]+ [^ \t]+/ {
	emit($1, 2)
	pending = ""
	next
}

# The name without a result: the benchmark wrote to stdout, so the result
# comes on a later line ("BenchmarkX-2   \tsome output").
/^Benchmark[^ \t]*([ \t]|$)/ { pending = $1; next }

# The result line that belongs to a pending name.
pending != "" && /^[ \t]+[0-9]+[ \t]+[-0-9.eE+]+ [^ \t]+/ {
	emit(pending, 1)
	pending = ""
	next
}

# "FAIL	assist/capture	1.2s" (package summary) or "--- FAIL: BenchmarkX".
/^FAIL[ \t]/ && NF >= 2 { failed[nfail++] = $2; next }
/^--- FAIL: / { failed[nfail++] = (pkg != "" ? pkg "." : "") $3; next }

END {
	printf "{\n  \"goos\": %s,\n  \"goarch\": %s,\n  \"cpu\": %s,\n", jstr(goos), jstr(goarch), jstr(cpu)
	printf "  \"benchmarks\": ["
	for (i = 0; i < nout; i++)
		printf "%s\n%s", (i ? "," : ""), out[i]
	printf "%s],\n", (nout ? "\n  " : "")
	printf "  \"failed\": ["
	for (i = 0; i < nfail; i++)
		printf "%s%s", (i ? ", " : ""), jstr(failed[i])
	printf "]\n}\n"
}
