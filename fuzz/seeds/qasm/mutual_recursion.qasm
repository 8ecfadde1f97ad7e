qreg q[1];
gate f a { g a; }
gate g a { f a; }
f q[0];
