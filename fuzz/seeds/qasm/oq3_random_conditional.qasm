OPENQASM 3.0;
include "stdgates.inc";
gate cu3(p0, p1, p2) _gate_q_0, _gate_q_1 {
  p(0.5*p2 + 0.5*p1) _gate_q_0;
  p(0.5*p2 - 0.5*p1) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  U((-0.5)*p0, 0, (-0.5)*p1 - 0.5*p2) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  U(0.5*p0, p1, 0) _gate_q_1;
}
gate rxx(p0) _gate_q_0, _gate_q_1 {
  h _gate_q_0;
  h _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  rz(p0) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  h _gate_q_1;
  h _gate_q_0;
}
gate sxdg _gate_q_0 {
  s _gate_q_0;
  h _gate_q_0;
  s _gate_q_0;
}
gate xx_minus_yy(p0, p1) _gate_q_0, _gate_q_1 {
  rz(-p1) _gate_q_1;
  sdg _gate_q_0;
  sx _gate_q_0;
  s _gate_q_0;
  s _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  ry(0.5*p0) _gate_q_0;
  ry((-0.5)*p0) _gate_q_1;
  cx _gate_q_0, _gate_q_1;
  sdg _gate_q_1;
  sdg _gate_q_0;
  sxdg _gate_q_0;
  s _gate_q_0;
  rz(p1) _gate_q_1;
}
bit[5] c;
qubit[5] q;
U(5.008134923536883, 2.940122020423439, 1.904008891790084) q[3];
z q[1];
cswap q[4], q[0], q[2];
cu3(6.2138198693009725, 1.3528244492618786, 1.0066418971689672) q[3], q[1];
rxx(3.848699841633905) q[4], q[2];
xx_minus_yy(1.208898324158355, 4.3481660540211) q[2], q[0];
cy q[1], q[3];
sdg q[4];
cu3(3.4001069075437687, 3.1904270545160798, 5.474786769203726) q[3], q[1];
cswap q[4], q[0], q[2];
s q[0];
cswap q[4], q[2], q[1];
u1(4.220824999594331) q[4];
cry(1.8875950419309886) q[3], q[2];
p(5.491987928045793) q[0];
c[0] = measure q[0];
c[1] = measure q[1];
c[2] = measure q[2];
c[3] = measure q[3];
c[4] = measure q[4];
