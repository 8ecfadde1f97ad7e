qreg q[1];
creg c[1];
measure q -> c;
