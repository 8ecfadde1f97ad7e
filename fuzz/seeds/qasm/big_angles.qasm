OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
u3(1e300, 1e308, 1e308) q[0];
cu3(1e308,1e308,1e308) q[0],q[1];
u2(1e308,1e308) q[1];
