OPENQASM 2.0;
include "qelib1.inc";
gate inner(a) x { rz(a) x; }
gate outer(a, b) x, y { inner(a * 2) x; cx x, y; inner(b - a) y; barrier x, y; }
qreg q[2];
creg c[2];
outer(0.25, 1) q[1], q[0];
measure q -> c;
