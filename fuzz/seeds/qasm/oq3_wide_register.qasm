OPENQASM 3.0;
include "stdgates.inc";
bit[70] wide;
bit[1] flag;
qubit[3] q;
x q[0];
h q[1];
wide[0] = measure q[0];
wide[65] = measure q[1];
if (wide == 36893488147419103233) {
  x q[2];
} else {
  ry(0.5) q[2];
}
flag[0] = measure q[2];
