gate h a { U(pi/2,0,pi) a; }
include "qelib1.inc";
qreg q[1];
h q[0];
