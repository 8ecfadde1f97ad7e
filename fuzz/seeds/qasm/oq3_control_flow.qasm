OPENQASM 3.0;
include "stdgates.inc";
bit[2] m;
bit[3] out;
qubit[3] q;
h q[0];
ry(1.1) q[1];
m[0] = measure q[0];
m[1] = measure q[1];
if (m == 2) {
  x q[2];
} else {
  ry(0.6) q[2];
}
if (!m[0]) {
  h q[1];
}
for int _loop_i_0 in [0:2] {
  rx(0.4*_loop_i_0) q[0];
}
for int _ in {1, 3} {
  rz(0.3) q[2];
  h q[2];
}
out[0] = measure q[0];
out[1] = measure q[1];
out[2] = measure q[2];
