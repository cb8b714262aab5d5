/* Internal to src/attest: TDX quote v4/v5 verification (tdx_verify() is
 * declared in verifiers.h). TD report body offsets (TDX 1.0; TDX 1.5 appends
 * TEE_TCB_SVN2 and MRSERVICETD). Claims are listed in attest.h; besides those
 * it adds "body_type", "qe_isv_svn" and the TCB/PCK claims shared with SGX. */
#ifndef CAIRN_ATTEST_TDX_H
#define CAIRN_ATTEST_TDX_H

#define TDX_TB_TEE_TCB_SVN 0
#define TDX_TB_MRSEAM 16
#define TDX_TB_MRSIGNERSEAM 64
#define TDX_TB_SEAMATTRIBUTES 112
#define TDX_TB_TDATTRIBUTES 120
#define TDX_TB_XFAM 128
#define TDX_TB_MRTD 136
#define TDX_TB_MRCONFIGID 184
#define TDX_TB_MROWNER 232
#define TDX_TB_MROWNERCONFIG 280
#define TDX_TB_RTMR0 328
#define TDX_TB_REPORTDATA 520
#define TDX_TB_TEE_TCB_SVN2 584
#define TDX_TB_MRSERVICETD 600

#define TDX_TD_ATTR_DEBUG 0x01u /* TDATTRIBUTES bit 0 */

#endif
