gate g a { measure a -> c; }
gate h a, a { U(0,0,0) a; }
gate k(x) a { U(y,0,0) a[0]; }
