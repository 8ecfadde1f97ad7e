OPENQASM 2.0;
include "qelib1.inc";
qreg q[1];
rz(0/0) q[0];
rx(ln(0)) q[0];
ry(sqrt(-1)) q[0];
