OPENQASM 2.0;
include "qelib1.inc";
qreg q[1];
creg c[1];
U(1e308*10, 1e308, 1e308) q[0];
u3(1.7976931348623157e308, 1.7976931348623157e308, 1.7976931348623157e308) q[0];
rz(2^1024) q[0];
measure q -> c;
