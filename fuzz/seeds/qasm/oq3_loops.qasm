OPENQASM 3.0;
include "stdgates.inc";
qubit[4] q;
bit[4] c;
for int i in [0:3] { ry(0.2 * (i + 1)) q[i]; }
for int i in [0:2:2] { cx q[i], q[i + 1]; }
for int k in {3, 1} { rz(0.5) q[k]; h q[k]; }
c = measure q;
