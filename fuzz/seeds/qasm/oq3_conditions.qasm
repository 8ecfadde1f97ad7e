OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[2] m;
bit[3] out;
h q[0];
ry(1.2) q[1];
m = measure q[0:1];
if (m == 2) { x q[2]; } else { ry(0.4) q[2]; }
if (m[0]) { z q[1]; }
if (m != 3) { h q[1]; }
if (m < 2 && !m[0]) { ry(0.9) q[0]; } else { if (m[1]) { x q[0]; } }
out = measure q;
