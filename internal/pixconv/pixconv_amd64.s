//go:build amd64 && !purego

#include "textflag.h"

// func shuffleAVX2(dst, src *byte, n int, ctl *[64]byte)
TEXT ·shuffleAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ ctl+24(FP), AX
	VMOVDQU 0(AX), Y4  // shuffle control
	VMOVDQU 32(AX), Y5 // alpha

loop128:
	CMPQ CX, $128
	JB   loop32
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVDQU 64(SI), Y2
	VMOVDQU 96(SI), Y3
	VPSHUFB Y4, Y0, Y0
	VPSHUFB Y4, Y1, Y1
	VPSHUFB Y4, Y2, Y2
	VPSHUFB Y4, Y3, Y3
	VPOR    Y5, Y0, Y0
	VPOR    Y5, Y1, Y1
	VPOR    Y5, Y2, Y2
	VPOR    Y5, Y3, Y3
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $128, CX
	JMP     loop128

loop32:
	CMPQ CX, $32
	JB   done
	VMOVDQU 0(SI), Y0
	VPSHUFB Y4, Y0, Y0
	VPOR    Y5, Y0, Y0
	VMOVDQU Y0, 0(DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $32, CX
	JMP     loop32

done:
	VZEROUPPER
	RET
