OPENQASM 3.0;
include "stdgates.inc";
gate phased a { gphase(pi / 2); x a; }
qubit[2] q;
bit[2] c;
gphase(0.3);
h q[0];
h q[1];
ctrl @ gphase(pi / 4) q[0];
ctrl @ phased q[1], q[0];
h q[0];
h q[1];
c = measure q;
