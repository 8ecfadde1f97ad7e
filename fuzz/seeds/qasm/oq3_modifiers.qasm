OPENQASM 3.0;
include "stdgates.inc";
gate rot(theta) a { ry(theta) a; rz(theta / 2) a; }
qubit[3] q;
bit[3] c;
h q[0];
ry(0.4) q[1];
negctrl @ ry(1.3) q[0], q[2];
pow(2) @ rot(0.35) q[1];
pow(3) @ ctrl @ rx(0.3) q[0], q[1];
pow(-1) @ ry(0.5) q[2];
negctrl(2) @ x q[0], q[1], q[2];
c = measure q;
