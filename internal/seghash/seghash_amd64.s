//go:build amd64 && !purego

#include "textflag.h"

// Four lanes X0-X3 start as the keys K0-K3 (X8-X11). Block i of a segment
// (16 bytes) goes into lane i%4 between two rounds: lane = round(lane)
// ^ block, then lane = round(lane) ^ K (AESENC B, S then AESENC K, S).
// So a difference a block makes has gone through two rounds (all sixteen
// bytes) before the lane's next block can meet it. After the sixteen
// blocks each lane takes two more rounds keyed with its key; then
// X0 = round(X0) ^ X1, X2 = round(X2) ^ X3, X0 = round(X0) ^ X2, and two
// more rounds keyed K0 and K1. The low 64 bits of X0 are the hash.
// (AESENC K, S: S = MixColumns(ShiftRows(SubBytes(S))) ^ K.)

// func sum(keys *[4][16]byte, b *byte, n int, out *uint64)
TEXT ·sum(SB), NOSPLIT, $0-32
	MOVQ keys+0(FP), AX
	MOVQ b+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ out+24(FP), DI
	MOVOU 0(AX), X8
	MOVOU 16(AX), X9
	MOVOU 32(AX), X10
	MOVOU 48(AX), X11

segment:
	TESTQ CX, CX
	JZ    done
	MOVO  X8, X0
	MOVO  X9, X1
	MOVO  X10, X2
	MOVO  X11, X3
	MOVQ  $4, DX // groups of four blocks, one per lane

blocks:
	MOVOU  0(SI), X4
	MOVOU  16(SI), X5
	MOVOU  32(SI), X6
	MOVOU  48(SI), X7
	AESENC X4, X0
	AESENC X5, X1
	AESENC X6, X2
	AESENC X7, X3
	AESENC X8, X0
	AESENC X9, X1
	AESENC X10, X2
	AESENC X11, X3
	ADDQ   $64, SI
	DECQ   DX
	JNZ    blocks

	AESENC X8, X0
	AESENC X9, X1
	AESENC X10, X2
	AESENC X11, X3
	AESENC X8, X0
	AESENC X9, X1
	AESENC X10, X2
	AESENC X11, X3
	AESENC X1, X0
	AESENC X3, X2
	AESENC X2, X0
	AESENC X8, X0
	AESENC X9, X0
	MOVQ   X0, 0(DI)
	ADDQ   $8, DI
	DECQ   CX
	JMP    segment

done:
	RET
