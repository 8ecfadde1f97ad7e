OPENQASM 2.0;
include "qelib1.inc";
opaque magic(a, b) x, y;
qreg q[2];
magic(1, 2) q[0], q[1];
