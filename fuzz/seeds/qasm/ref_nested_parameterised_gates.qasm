OPENQASM 2.0;
include "qelib1.inc";
gate rot(theta, phi) q { u3(theta, phi, -phi) q; }
gate pair(t) a, b { rot(t, t / 2) a; cx a, b; rot(-t / 3, pi / 5) b; }
gate triple(x) a, b, c { pair(x) a, b; pair(2 * x) b, c; barrier a, b, c; }
qreg q[3];
creg c[3];
triple(0.9) q[0], q[1], q[2];
triple(-0.4) q[2], q[0], q[1];
measure q -> c;
