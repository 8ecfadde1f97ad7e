OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q;
measure q[0] -> c[0];
if (c == 18446744073709551615) x q[1];
reset q[0];
measure q -> c;
