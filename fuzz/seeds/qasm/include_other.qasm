OPENQASM 2.0;
include "stdgates.inc";
include "/etc/passwd";
qreg q[1];
