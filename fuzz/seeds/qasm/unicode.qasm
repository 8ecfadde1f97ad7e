OPENQASM 2.0;
qreg q[1]; // ünïcödé ✓ 量子
U(π, 0, 0) q[0];
qreg ψ[2];
"é ";
